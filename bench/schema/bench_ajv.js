// bench_ajv.js -- the peer: ajv 8 (draft 2020-12), JSON.parse + validate per document.
// usage: node bench_ajv.js SCHEMA NDJSON [SECONDS]; prints "docs/s valid invalid".
'use strict';
const fs = require('fs');
const Ajv2020 = require('ajv/dist/2020');
const [schemaPath, dataPath, secsArg] = process.argv.slice(2);
const secs = Number(secsArg || 3);
const ajv = new Ajv2020({ allErrors: false, strict: false, validateFormats: false });
const validate = ajv.compile(JSON.parse(fs.readFileSync(schemaPath, 'utf8')));
const lines = fs.readFileSync(dataPath, 'utf8').split('\n').filter((l) => l.length > 0);
let valid = 0, invalid = 0, done = 0;
// warm-up so the JIT has compiled the validator
for (let r = 0; r < 3; r++) for (const l of lines) validate(JSON.parse(l));
const t0 = process.hrtime.bigint();
let t1;
do {
  for (const l of lines) {
    if (validate(JSON.parse(l))) valid++; else invalid++;
  }
  done += lines.length;
  t1 = process.hrtime.bigint();
} while (Number(t1 - t0) / 1e9 < secs);
const rate = done / (Number(t1 - t0) / 1e9);
console.log(`${rate.toFixed(0)} ${Math.round(valid * lines.length / done)} ${Math.round(invalid * lines.length / done)}`);
