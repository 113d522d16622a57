/* meta.c -- the JSON Schema 2020-12 meta-schemas, built in so that references to
 * https://json-schema.org/draft/2020-12/... resolve without a network. Written as compact
 * JSON from the published vocabulary definitions (structure only: titles trimmed). */
#include "schema/schema_int.h"

static const struct {
    const char *uri;
    const char *json;
} metas[] = {
    {"https://json-schema.org/draft/2020-12/schema",
     "{\"$schema\":\"https://json-schema.org/draft/2020-12/schema\",\"$id\":\"https://json-sch"
     "ema.org/draft/2020-12/schema\",\"$dynamicAnchor\":\"meta\",\"$vocabulary\":{\"https://js"
     "on-schema.org/draft/2020-12/vocab/core\":true,\"https://json-schema.org/draft/2020-12/vo"
     "cab/applicator\":true,\"https://json-schema.org/draft/2020-12/vocab/unevaluated\":true,\""
     "https://json-schema.org/draft/2020-12/vocab/validation\":true,\"https://json-schema.org/"
     "draft/2020-12/vocab/meta-data\":true,\"https://json-schema.org/draft/2020-12/vocab/conte"
     "nt\":true,\"https://json-schema.org/draft/2020-12/vocab/format-annotation\":true},\"titl"
     "e\":\"2020-12 meta-schema\",\"allOf\":[{\"$ref\":\"meta/core\"},{\"$ref\":\"meta/applica"
     "tor\"},{\"$ref\":\"meta/unevaluated\"},{\"$ref\":\"meta/validation\"},{\"$ref\":\"meta/m"
     "eta-data\"},{\"$ref\":\"meta/format-annotation\"},{\"$ref\":\"meta/content\"}],\"type\":"
     "[\"object\",\"boolean\"],\"properties\":{\"definitions\":{\"type\":\"object\",\"addition"
     "alProperties\":{\"$dynamicRef\":\"#meta\"}},\"dependencies\":{\"type\":\"object\",\"addi"
     "tionalProperties\":{\"anyOf\":[{\"$dynamicRef\":\"#meta\"},{\"$ref\":\"meta/validation#/"
     "$defs/stringArray\"}]}},\"$recursiveAnchor\":{\"$ref\":\"meta/core#/$defs/anchorString\""
     "},\"$recursiveRef\":{\"$ref\":\"meta/core#/$defs/uriReferenceString\"}}}"},
    {"https://json-schema.org/draft/2020-12/meta/core",
     "{\"$schema\":\"https://json-schema.org/draft/2020-12/schema\",\"$id\":\"https://json-sch"
     "ema.org/draft/2020-12/meta/core\",\"$dynamicAnchor\":\"meta\",\"$vocabulary\":{\"https:/"
     "/json-schema.org/draft/2020-12/vocab/core\":true},\"type\":[\"object\",\"boolean\"],\"pr"
     "operties\":{\"$id\":{\"$ref\":\"#/$defs/uriReferenceString\",\"pattern\":\"^[^#]*#?$\"},"
     "\"$schema\":{\"$ref\":\"#/$defs/uriString\"},\"$ref\":{\"$ref\":\"#/$defs/uriReferenceSt"
     "ring\"},\"$anchor\":{\"$ref\":\"#/$defs/anchorString\"},\"$dynamicRef\":{\"$ref\":\"#/$d"
     "efs/uriReferenceString\"},\"$dynamicAnchor\":{\"$ref\":\"#/$defs/anchorString\"},\"$voca"
     "bulary\":{\"type\":\"object\",\"propertyNames\":{\"$ref\":\"#/$defs/uriString\"},\"addit"
     "ionalProperties\":{\"type\":\"boolean\"}},\"$comment\":{\"type\":\"string\"},\"$defs\":{"
     "\"type\":\"object\",\"additionalProperties\":{\"$dynamicRef\":\"#meta\"}}},\"$defs\":{\""
     "anchorString\":{\"type\":\"string\",\"pattern\":\"^[A-Za-z_][-A-Za-z0-9._]*$\"},\"uriStr"
     "ing\":{\"type\":\"string\",\"format\":\"uri\"},\"uriReferenceString\":{\"type\":\"string"
     "\",\"format\":\"uri-reference\"}}}"},
    {"https://json-schema.org/draft/2020-12/meta/applicator",
     "{\"$schema\":\"https://json-schema.org/draft/2020-12/schema\",\"$id\":\"https://json-sch"
     "ema.org/draft/2020-12/meta/applicator\",\"$dynamicAnchor\":\"meta\",\"$vocabulary\":{\"h"
     "ttps://json-schema.org/draft/2020-12/vocab/applicator\":true},\"type\":[\"object\",\"boo"
     "lean\"],\"properties\":{\"prefixItems\":{\"$ref\":\"#/$defs/schemaArray\"},\"items\":{\""
     "$dynamicRef\":\"#meta\"},\"contains\":{\"$dynamicRef\":\"#meta\"},\"additionalProperties"
     "\":{\"$dynamicRef\":\"#meta\"},\"properties\":{\"type\":\"object\",\"additionalPropertie"
     "s\":{\"$dynamicRef\":\"#meta\"},\"default\":{}},\"patternProperties\":{\"type\":\"object"
     "\",\"additionalProperties\":{\"$dynamicRef\":\"#meta\"},\"propertyNames\":{\"format\":\""
     "regex\"},\"default\":{}},\"dependentSchemas\":{\"type\":\"object\",\"additionalPropertie"
     "s\":{\"$dynamicRef\":\"#meta\"},\"default\":{}},\"propertyNames\":{\"$dynamicRef\":\"#me"
     "ta\"},\"if\":{\"$dynamicRef\":\"#meta\"},\"then\":{\"$dynamicRef\":\"#meta\"},\"else\":{"
     "\"$dynamicRef\":\"#meta\"},\"allOf\":{\"$ref\":\"#/$defs/schemaArray\"},\"anyOf\":{\"$re"
     "f\":\"#/$defs/schemaArray\"},\"oneOf\":{\"$ref\":\"#/$defs/schemaArray\"},\"not\":{\"$dy"
     "namicRef\":\"#meta\"}},\"$defs\":{\"schemaArray\":{\"type\":\"array\",\"minItems\":1,\"i"
     "tems\":{\"$dynamicRef\":\"#meta\"}}}}"},
    {"https://json-schema.org/draft/2020-12/meta/unevaluated",
     "{\"$schema\":\"https://json-schema.org/draft/2020-12/schema\",\"$id\":\"https://json-sch"
     "ema.org/draft/2020-12/meta/unevaluated\",\"$dynamicAnchor\":\"meta\",\"$vocabulary\":{\""
     "https://json-schema.org/draft/2020-12/vocab/unevaluated\":true},\"type\":[\"object\",\"b"
     "oolean\"],\"properties\":{\"unevaluatedItems\":{\"$dynamicRef\":\"#meta\"},\"unevaluated"
     "Properties\":{\"$dynamicRef\":\"#meta\"}}}"},
    {"https://json-schema.org/draft/2020-12/meta/validation",
     "{\"$schema\":\"https://json-schema.org/draft/2020-12/schema\",\"$id\":\"https://json-sch"
     "ema.org/draft/2020-12/meta/validation\",\"$dynamicAnchor\":\"meta\",\"$vocabulary\":{\"h"
     "ttps://json-schema.org/draft/2020-12/vocab/validation\":true},\"type\":[\"object\",\"boo"
     "lean\"],\"properties\":{\"type\":{\"anyOf\":[{\"$ref\":\"#/$defs/simpleTypes\"},{\"type\""
     ":\"array\",\"items\":{\"$ref\":\"#/$defs/simpleTypes\"},\"minItems\":1,\"uniqueItems\":t"
     "rue}]},\"const\":true,\"enum\":{\"type\":\"array\",\"items\":true},\"multipleOf\":{\"typ"
     "e\":\"number\",\"exclusiveMinimum\":0},\"maximum\":{\"type\":\"number\"},\"exclusiveMaxi"
     "mum\":{\"type\":\"number\"},\"minimum\":{\"type\":\"number\"},\"exclusiveMinimum\":{\"ty"
     "pe\":\"number\"},\"maxLength\":{\"$ref\":\"#/$defs/nonNegativeInteger\"},\"minLength\":{"
     "\"$ref\":\"#/$defs/nonNegativeIntegerDefault0\"},\"pattern\":{\"type\":\"string\",\"form"
     "at\":\"regex\"},\"maxItems\":{\"$ref\":\"#/$defs/nonNegativeInteger\"},\"minItems\":{\"$"
     "ref\":\"#/$defs/nonNegativeIntegerDefault0\"},\"uniqueItems\":{\"type\":\"boolean\",\"de"
     "fault\":false},\"maxContains\":{\"$ref\":\"#/$defs/nonNegativeInteger\"},\"minContains\""
     ":{\"$ref\":\"#/$defs/nonNegativeInteger\",\"default\":1},\"maxProperties\":{\"$ref\":\"#"
     "/$defs/nonNegativeInteger\"},\"minProperties\":{\"$ref\":\"#/$defs/nonNegativeIntegerDef"
     "ault0\"},\"required\":{\"$ref\":\"#/$defs/stringArray\"},\"dependentRequired\":{\"type\""
     ":\"object\",\"additionalProperties\":{\"$ref\":\"#/$defs/stringArray\"}}},\"$defs\":{\"n"
     "onNegativeInteger\":{\"type\":\"integer\",\"minimum\":0},\"nonNegativeIntegerDefault0\":"
     "{\"$ref\":\"#/$defs/nonNegativeInteger\",\"default\":0},\"simpleTypes\":{\"enum\":[\"arr"
     "ay\",\"boolean\",\"integer\",\"null\",\"number\",\"object\",\"string\"]},\"stringArray\""
     ":{\"type\":\"array\",\"items\":{\"type\":\"string\"},\"uniqueItems\":true,\"default\":[]"
     "}}}"},
    {"https://json-schema.org/draft/2020-12/meta/meta-data",
     "{\"$schema\":\"https://json-schema.org/draft/2020-12/schema\",\"$id\":\"https://json-sch"
     "ema.org/draft/2020-12/meta/meta-data\",\"$dynamicAnchor\":\"meta\",\"$vocabulary\":{\"ht"
     "tps://json-schema.org/draft/2020-12/vocab/meta-data\":true},\"type\":[\"object\",\"boole"
     "an\"],\"properties\":{\"title\":{\"type\":\"string\"},\"description\":{\"type\":\"string"
     "\"},\"default\":true,\"deprecated\":{\"type\":\"boolean\",\"default\":false},\"readOnly\""
     ":{\"type\":\"boolean\",\"default\":false},\"writeOnly\":{\"type\":\"boolean\",\"default\""
     ":false},\"examples\":{\"type\":\"array\",\"items\":true}}}"},
    {"https://json-schema.org/draft/2020-12/meta/format-annotation",
     "{\"$schema\":\"https://json-schema.org/draft/2020-12/schema\",\"$id\":\"https://json-sch"
     "ema.org/draft/2020-12/meta/format-annotation\",\"$dynamicAnchor\":\"meta\",\"$vocabulary"
     "\":{\"https://json-schema.org/draft/2020-12/vocab/format-annotation\":true},\"type\":[\""
     "object\",\"boolean\"],\"properties\":{\"format\":{\"type\":\"string\"}}}"},
    {"https://json-schema.org/draft/2020-12/meta/format-assertion",
     "{\"$schema\":\"https://json-schema.org/draft/2020-12/schema\",\"$id\":\"https://json-sch"
     "ema.org/draft/2020-12/meta/format-assertion\",\"$dynamicAnchor\":\"meta\",\"$vocabulary\""
     ":{\"https://json-schema.org/draft/2020-12/vocab/format-assertion\":true},\"type\":[\"obj"
     "ect\",\"boolean\"],\"properties\":{\"format\":{\"type\":\"string\"}}}"},
    {"https://json-schema.org/draft/2020-12/meta/content",
     "{\"$schema\":\"https://json-schema.org/draft/2020-12/schema\",\"$id\":\"https://json-sch"
     "ema.org/draft/2020-12/meta/content\",\"$dynamicAnchor\":\"meta\",\"$vocabulary\":{\"http"
     "s://json-schema.org/draft/2020-12/vocab/content\":true},\"type\":[\"object\",\"boolean\""
     "],\"properties\":{\"contentEncoding\":{\"type\":\"string\"},\"contentMediaType\":{\"type"
     "\":\"string\"},\"contentSchema\":{\"$dynamicRef\":\"#meta\"}}}"},
};

const char *dmp_schema_builtin(const char *uri, size_t *len)
{
    for (size_t i = 0; i < sizeof metas / sizeof metas[0]; i++)
        if (!strcmp(metas[i].uri, uri)) {
            *len = strlen(metas[i].json);
            return metas[i].json;
        }
    return NULL;
}
