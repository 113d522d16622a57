/* default_policies.c -- the policy set dmp ships and applies by default, as YAML text
 * compiled into the binary (so there is no file to lose at install time).
 *
 * It sits below the admin's global policies, which may redefine any of these rules
 * (for example retention-max with another maximum) or switch them off. Domains
 * cannot relax its error rules. docs/policies.md explains each rule; the DESIGN 3A
 * request passes all of them unchanged (tests/unit/test_policy.c checks it).
 */
#include "dmp/policy.h"

static const char default_policies[] =
    "# dmp default policies (docs/policies.md)\n"
    "description: dmp default policies\n"
    "rules:\n"
    "  owner-required:\n"
    "    description: every output port has an owner, its own or the product's\n"
    "    given: \"$.outputPorts[?!@.owner && !$.owner]\"\n"
    "    then: {field: owner, function: truthy}\n"
    "    severity: error\n"
    "    message: \"port has no owner: set owner on the port or on the product\"\n"
    "  owner-required-product:\n"
    "    description: a product without output ports has a top-level owner\n"
    "    given: \"$[?@ == $.name && !$.owner && !$.outputPorts[0]]\"\n"
    "    then: {function: falsy}\n"
    "    severity: error\n"
    "    message: \"product {{value}} has no owner: set owner\"\n"
    "  name-casing:\n"
    "    description: product, port, workload and check names are snake_case\n"
    "    given:\n"
    "      - \"$.name\"\n"
    "      - \"$.outputPorts[*].name\"\n"
    "      - \"$.inputPorts[*].name\"\n"
    "      - \"$.workloads[*].name\"\n"
    "      - \"$.observability[*].name\"\n"
    "    then: {function: casing, functionOptions: {type: snake}}\n"
    "    severity: error\n"
    "    message: \"name '{{value}}' is not snake_case (lower-case letters and digits, words "
    "joined by '_', starting with a letter)\"\n"
    "  domain-casing:\n"
    "    description: each segment of the domain path is snake_case\n"
    "    given: \"$.domain\"\n"
    "    then:\n"
    "      function: pattern\n"
    "      functionOptions:\n"
    "        match: \"^[a-z][a-z0-9]*(_[a-z0-9]+)*(\\\\.[a-z][a-z0-9]*(_[a-z0-9]+)*)*$\"\n"
    "    severity: error\n"
    "    message: \"domain '{{value}}' is not a dot path of snake_case names\"\n"
    "  typed-schema-required:\n"
    "    description: every public or protected stream or table port declares a schema\n"
    "    given: \"$.outputPorts[?(match(@.type, 'stream|table') || "
    "match(@.resourceType, 'stream|table')) && (@.visibility == 'public' || "
    "@.visibility == 'protected' || (!@.visibility && @.allow[0]))]\"\n"
    "    then: {field: schema, function: truthy}\n"
    "    severity: error\n"
    "    message: \"a public or protected stream/table port needs a schema\"\n"
    "  typed-schema-typed:\n"
    "    description: the schema of a public or protected stream or table port is typed\n"
    "    given: \"$.outputPorts[?(match(@.type, 'stream|table') || "
    "match(@.resourceType, 'stream|table')) && (@.visibility == 'public' || "
    "@.visibility == 'protected' || (!@.visibility && @.allow[0])) && @.schema && "
    "!@.schema.type && !@.schema.properties && !@.schema['$ref']]\"\n"
    "    then: {field: schema.type, function: truthy}\n"
    "    severity: error\n"
    "    message: \"the schema has neither 'type' nor 'properties' (nor '$ref')\"\n"
    "  pii-public-masked:\n"
    "    description: a property classified pii on a public port must be masked\n"
    "    given: \"$.outputPorts[?@.visibility == 'public'].schema..[?@['x-dmp-classification'] "
    "== 'pii' || @['x-dmp-classification'] == 'PII']\"\n"
    "    then: {field: x-dmp-mask, function: truthy}\n"
    "    severity: error\n"
    "    message: \"a pii property on a public port must be masked (x-dmp-mask), or the port "
    "made protected or private\"\n"
    "  retention-max:\n"
    "    description: retention is at most 365 days\n"
    "    given: \"$.outputPorts[*].retention.time\"\n"
    "    then: {function: duration, functionOptions: {max: 365d}}\n"
    "    severity: error\n"
    "    message: \"retention {{error}}\"\n";

const char *dmp_policy_default_text(void)
{
    return default_policies;
}
