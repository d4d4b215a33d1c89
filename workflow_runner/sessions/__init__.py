"""Interactive sessions: a local port that reaches a service a workflow started (``parallelworks/update-session``).

``forwarder`` — the interface every forwarder has and the local listener; ``ssh`` — the tunnel over the run's SSH
connection; ``spec`` — a session's settings from ``with:`` and ``sessions:``; ``checks`` — the validate-time errors;
``registry`` — the sessions of one run, closed when it ends. ``kube`` (``kubectl port-forward``) has the same interface.
"""
