/* policy.h -- policies as code: Spectral-style rulesets evaluated over descriptors,
 * composed federally (shipped defaults < global (admin) < domain < subdomain).
 *
 * A policy file (YAML or JSON) holds rules:
 *
 *   rules:
 *     port-names-snake:
 *       description: port names are snake_case
 *       given: "$.outputPorts[*]"           # RFC 9535 JSONPath, or a list of them
 *       then:                               # or a list of { field, function, ... }
 *         field: name                       # optional: "a.b", "@key" or a JSONPath "$..x"
 *         function: casing                  # truthy falsy defined undefined pattern
 *         functionOptions: {type: snake}    # enumeration length casing schema xor
 *       severity: error                     # error | warn | info | off
 *       message: "{{property}} '{{value}}' is not snake_case"
 *     some-inherited-rule: warn             # change the severity of an inherited rule
 *     another-inherited-rule: off           # switch an inherited rule off
 *
 * The functions and their options are listed in docs/policies.md. A domain policy
 * may add rules and change its own rules' severities, but it cannot switch off or
 * downgrade an error rule that comes from the defaults, the global set or an
 * ancestor domain: dmp_policy_set_domain refuses such a policy with DMP_POLICY.
 *
 * Threading: a dmp_policy_t is immutable once parsed. A dmp_policy_set_t may be
 * evaluated from many threads at once, but changing it (set_global, set_domain)
 * needs the caller's exclusive lock.
 */
#ifndef DMP_POLICY_H
#define DMP_POLICY_H

#include <jansson.h>

#include "dmp/core.h"
#include "dmp/descriptor.h"

typedef struct dmp_policy dmp_policy_t;         /* one parsed policy file */
typedef struct dmp_policy_set dmp_policy_set_t; /* the layers, composed */

/* Parses a policy file held in buf[0..len) (YAML or JSON). 'source' names it in
 * messages ("<policy>" when NULL). On success *out owns the policy (release with
 * dmp_policy_free). On failure *out is NULL, returns DMP_PARSE / DMP_INVALID /
 * DMP_LIMIT, every problem is added to 'diags' (when not NULL) with its
 * file:line:col, and 'err' holds the first ("policy.yaml:7:12: rules.x.then.function:
 * unknown function 'truthyy' (did you mean 'truthy'?)"). */
DMP_EXPORT int dmp_policy_parse(const char *buf, size_t len, const char *source, dmp_policy_t **out,
                                dmp_diags_t *diags, dmp_error_t *err);
/* Reads and parses the file at 'path' (at most 1 MiB). */
DMP_EXPORT int dmp_policy_load(const char *path, dmp_policy_t **out, dmp_diags_t *diags,
                               dmp_error_t *err);
DMP_EXPORT void dmp_policy_free(dmp_policy_t *p);

/* The default policy set shipped with dmp (its YAML text, and parsed). The text is
 * static; docs/policies.md explains each rule. */
DMP_EXPORT const char *dmp_policy_default_text(void);
DMP_EXPORT int dmp_policy_default(dmp_policy_t **out, dmp_error_t *err);

/* Number of entries (definitions and overrides) in a policy, and the source
 * document as parsed (borrowed, valid while 'p' lives) for GET endpoints. */
DMP_EXPORT size_t dmp_policy_rule_count(const dmp_policy_t *p);
DMP_EXPORT const json_t *dmp_policy_document(const dmp_policy_t *p);

/* ---- policy sets */

enum {
    DMP_POLICY_NO_DEFAULTS = 1, /* leave the shipped default set out */
};

/* A new set holding the default set (unless DMP_POLICY_NO_DEFAULTS), no global
 * policy and no domain policies. Release with dmp_policy_set_free. */
DMP_EXPORT int dmp_policy_set_new(int flags, dmp_policy_set_t **out, dmp_error_t *err);
DMP_EXPORT void dmp_policy_set_free(dmp_policy_set_t *s);

/* Replaces the global (admin) layer; takes ownership of 'p' in every case (NULL
 * clears the layer). The global layer may redefine, downgrade or switch off default
 * rules: it is the admin's word. */
DMP_EXPORT int dmp_policy_set_global(dmp_policy_set_t *s, dmp_policy_t *p, dmp_error_t *err);
/* Replaces the policy of 'domain' (a dot path; it applies to the domain and all its
 * subdomains). Takes ownership of 'p' in every case (NULL removes the domain's
 * policy). Returns DMP_POLICY, leaving the set unchanged, when 'p' would switch off
 * or downgrade an error rule of the defaults, the global layer or an ancestor
 * domain, redefines an inherited rule, or overrides a rule that does not exist; the
 * message names the rule and where it comes from. DMP_INVALID for a bad domain. */
DMP_EXPORT int dmp_policy_set_domain(dmp_policy_set_t *s, const char *domain, dmp_policy_t *p,
                                     dmp_error_t *err);

/* The rules in force for products of 'domain' (NULL or "" = global only), as
 * [{"name","severity","origin","description"}], origin being "default", "global"
 * or the domain that defined the rule. The caller owns the result. */
DMP_EXPORT json_t *dmp_policy_set_effective(const dmp_policy_set_t *s, const char *domain);

/* ---- evaluation */

/* Evaluates the rules in force for d->domain over the descriptor 'd'. 'prev' is the
 * previously published version of the same product, or NULL: rules that compare
 * versions (function `compatible`) only run when it is given. Each finding goes to
 * 'diags' with code DMP_POLICY, the rule's name and severity, its message, the JSON
 * pointer and d->source:line:col of the node. A rule whose evaluation hits a limit
 * adds an error finding with code DMP_LIMIT. Returns DMP_OK when no finding has
 * severity error, DMP_POLICY otherwise (err says how many and quotes the first). */
DMP_EXPORT int dmp_policy_evaluate(const dmp_policy_set_t *s, const dmp_descriptor_t *d,
                                   const dmp_descriptor_t *prev, dmp_diags_t *diags,
                                   dmp_error_t *err);

/* The same over a bare JSON document: 'domain' selects the domain layers (NULL: the
 * document's "domain" member), 'source' names the file in findings, and 'locs'
 * (may be NULL) gives positions, as returned by dmp_doc_load. */
DMP_EXPORT int dmp_policy_evaluate_json(const dmp_policy_set_t *s, json_t *doc, const char *domain,
                                        json_t *prev_doc, const char *source,
                                        const dmp_doc_locs_t *locs, dmp_diags_t *diags,
                                        dmp_error_t *err);

#endif
