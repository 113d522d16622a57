/* governance.h -- the policy service of `dmp serve`: the composed policy set (shipped
 * defaults, the admin's global policy, domain policies), persisted under the data
 * dir, evaluated on every deploy and dry run.
 *
 * Thread-safe: evaluation takes a shared lock, changes an exclusive one. */
#ifndef DMP_GOVERNANCE_H
#define DMP_GOVERNANCE_H

#include <jansson.h>

#include "dmp/descriptor.h"
#include "dmp/policy.h"

typedef struct dmp_governance dmp_governance_t;

/* Opens the service. Policies persist under <data_dir>/policies/ (global.yaml and
 * domains/<domain>.yaml). 'global_file', when given, replaces the persisted global
 * policy at startup (the --policies flag). A file that does not parse fails the open
 * with its file:line:col. *out owns the service (dmp_governance_close). */
DMP_EXPORT int dmp_governance_open(const char *data_dir, const char *global_file,
                                   dmp_governance_t **out, dmp_error_t *err);
DMP_EXPORT void dmp_governance_close(dmp_governance_t *gov);

/* Evaluates the policies in force for d->domain; findings go to 'diags'. 'prev' is
 * the previously published version, or NULL. Returns DMP_OK or DMP_POLICY. */
DMP_EXPORT int dmp_governance_evaluate(dmp_governance_t *gov, const dmp_descriptor_t *d,
                                       const dmp_descriptor_t *prev, dmp_diags_t *diags,
                                       dmp_error_t *err);

/* Replaces the global policy ('domain' NULL) or a domain's policy with the YAML/JSON
 * text buf[0..len); len 0 removes it. Parse problems go to 'diags'. A domain policy
 * that would relax an inherited error rule fails with DMP_POLICY. */
DMP_EXPORT int dmp_governance_put(dmp_governance_t *gov, const char *domain, const char *buf,
                                  size_t len, dmp_diags_t *diags, dmp_error_t *err);
/* {"domain", "policy": <document or null>, "effective": [...rules in force...]} */
DMP_EXPORT json_t *dmp_governance_get(dmp_governance_t *gov, const char *domain);

#endif
