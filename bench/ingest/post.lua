-- wrk script: one plain-JSON event per POST (an Identity-like record), keep-alive.
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.body = '{"Name":"Ann Example","Email":"ann@example.com","Age":42}'
