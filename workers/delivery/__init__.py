"""Delivery of playbook tasks to where people work: Slack, signed webhooks, HubSpot and
Salesforce (`cs-signals notify …`, `cs-signals sync …`).

Every sink is a consumer group of its own on `playbook-tasks` (consumer.py) that commits a
batch's offsets only once each task of it was delivered or published to `notify-dead-letters`
(deadletters.py). Tasks of one id are handled in order; different tasks run concurrently.
Retries and backoff: retry.py and http.py. Clients (Kafka, Redis, HTTP) are built in one place,
clients.py; sink settings are read and checked in settings.py.
"""
