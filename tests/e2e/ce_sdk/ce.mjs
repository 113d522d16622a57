// ce.mjs -- the official CloudEvents JavaScript SDK on both ends of dmp's interoperability
// test (tests/e2e/test_ce_sdk.py). Reads one JSON request on stdin, writes JSON on stdout.
//
//   node ce.mjs encode   {"events":[{attributes...}]}
//       -> [{"structured":{headers,body}, "binary":{headers,body}}]   (HTTP.structured/binary)
//   node ce.mjs decode   {"messages":[{headers, body}]}
//       -> [event | [event...]]   (HTTP.toEvent; a batch decodes to an array)
//
// Each decoded event is the SDK's own JSON form (attributes, extensions and data), after
// the SDK validated it (strict mode).
import { CloudEvent, HTTP } from "cloudevents";

async function readStdin() {
  const chunks = [];
  for await (const c of process.stdin) chunks.push(c);
  return JSON.parse(Buffer.concat(chunks).toString("utf8"));
}

function plain(ev) {
  const o = ev.toJSON();
  if (ev.data instanceof Uint8Array || ev.data instanceof Uint32Array)
    o.data = Buffer.from(ev.data).toString("base64");
  // validate() throws on anything the SDK considers invalid
  ev.validate();
  return o;
}

const cmd = process.argv[2];
const req = await readStdin();
let out;
if (cmd === "encode") {
  out = req.events.map((attrs) => {
    const ev = new CloudEvent(attrs);
    return { structured: HTTP.structured(ev), binary: HTTP.binary(ev) };
  });
} else if (cmd === "decode") {
  out = req.messages.map((m) => {
    const r = HTTP.toEvent({ headers: m.headers, body: m.body });
    return Array.isArray(r) ? r.map(plain) : plain(r);
  });
} else {
  console.error("usage: node ce.mjs encode|decode < request.json");
  process.exit(64);
}
process.stdout.write(JSON.stringify(out));
