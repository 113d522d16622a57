-- wrk script: one plain-JSON event per POST (a valid instance of the shared identity
-- schema, bench/schemas/identity.schema.json), keep-alive. Non-2xx replies are counted by
-- wrk and make run.sh fail the measurement.
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.body = '{"first":"Ann","Last":"Example","Age":42}'
