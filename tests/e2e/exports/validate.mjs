// validate.mjs -- checks dmp's exported contracts with the official parsers from npm.
//
//   node validate.mjs asyncapi=FILE openapi=FILE ...
//
// AsyncAPI documents go through @asyncapi/parser (any diagnostic of severity error fails);
// OpenAPI documents through @seriousme/openapi-schema-validator (OpenAPI 3.1 JSON Schema).
// Prints one line per document and exits 1 when any document fails.
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { Validator } from '@seriousme/openapi-schema-validator';

const require = createRequire(import.meta.url);
const { Parser, DiagnosticSeverity } = require('@asyncapi/parser');

async function checkAsyncApi(file) {
  const parser = new Parser();
  const { document, diagnostics } = await parser.parse(readFileSync(file, 'utf8'));
  const errors = diagnostics.filter((d) => d.severity === DiagnosticSeverity.Error);
  if (errors.length || !document) {
    return errors.map((d) => `${d.code}: ${d.message} at /${(d.path || []).join('/')}`);
  }
  // The parsed model must expose what dmp promised: channels with messages and payloads.
  const problems = [];
  for (const ch of document.channels().all()) {
    if (!ch.address()) problems.push(`channel ${ch.id()} has no address`);
    for (const m of ch.messages().all()) {
      if (!m.hasPayload()) problems.push(`message ${m.id()} of ${ch.id()} has no payload`);
    }
  }
  if (document.servers().all().length === 0) problems.push('no server');
  return problems;
}

async function checkOpenApi(file) {
  const v = new Validator();
  const res = await v.validate(JSON.parse(readFileSync(file, 'utf8')));
  // Schema errors come as a list; unresolvable $refs as one message string.
  if (!res.valid) {
    const errs = Array.isArray(res.errors) ? res.errors : [res.errors || 'invalid'];
    return errs.map((e) => (typeof e === 'string' ? e : JSON.stringify(e)));
  }
  if (!String(v.version).startsWith('3.1')) return [`expected OpenAPI 3.1, got ${v.version}`];
  return [];
}

let failed = 0;
for (const arg of process.argv.slice(2)) {
  const eq = arg.indexOf('=');
  const kind = arg.slice(0, eq);
  const file = arg.slice(eq + 1);
  let problems;
  try {
    if (kind === 'asyncapi') problems = await checkAsyncApi(file);
    else if (kind === 'openapi') problems = await checkOpenApi(file);
    else problems = [`unknown kind '${kind}' (asyncapi or openapi)`];
  } catch (e) {
    problems = [`${e.name}: ${e.message}`];
  }
  if (problems.length) {
    failed++;
    console.log(`FAIL ${kind} ${file}`);
    for (const p of problems.slice(0, 20)) console.log(`  ${p}`);
  } else {
    console.log(`ok ${kind} ${file}`);
  }
}
process.exit(failed ? 1 : 0);
