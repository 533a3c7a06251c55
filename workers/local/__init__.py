"""Everything that runs the system on one machine: the embedded broker and Redis, child
processes, the demo, and the bundled sample of accounts."""
