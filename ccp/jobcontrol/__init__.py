"""Job control beyond dismiss, and the Infrastructures' side of it.

- `controller`: inside a running execution (the lifecycle's watchdog), applies what the job
  store asks: suspend, resume, extend; pauses the time limit while suspended.
- `service`: the front of it for the API: checks and records suspend/resume/extend requests.
- `manifest`: the features an Infrastructure offers, from its runtime and its settings.
- `health`: scheduled health checks (engine reachability, optional probe run) with history,
  and which Infrastructures queued executions must wait for.
- `verify`: compares what runs on an engine with the job store; removes orphans, fails lost
  jobs, reports.
- `records`: the SQL of job control requests and Infrastructure checks.

Requests go through the job store, never to a runtime directly: the server running an
execution may not be the one that took the request, and a request survives a restart.
See docs/job-control.md.
"""
