"""`cs-signals board`: a live CSM board in the browser over the Redis live view and the topics.

Modules by concern: `settings` (flags and environment), `auth` (users file, password hashes,
trusted proxy header), `sessions` (signed cookie), `security` (session, CSRF and Origin checks,
headers), `keys` / `ingest` / `store` (the board's own Redis history and every read), `feedback`
(task-feedback publisher), `live` (server-sent events), `html` / `chart` / `pages` (server-side
rendering), `routes` (the aiohttp application) and `server` (the process).
"""
