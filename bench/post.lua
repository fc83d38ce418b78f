-- wrk script for the ceiling run: POSTs the bench body, with a valid Twenty
-- signature computed once by run.sh, so that the receiver does the same work
-- per request as for a worker's delivery.
local f = assert(io.open(os.getenv("BENCH_BODY_FILE"), "rb"))
wrk.method = "POST"
wrk.body = f:read("*a")
f:close()
wrk.headers["Content-Type"] = "application/json"
wrk.headers["X-Twenty-Webhook-Timestamp"] = os.getenv("BENCH_TS")
wrk.headers["X-Twenty-Webhook-Signature"] = os.getenv("BENCH_SIG")
