"""Interactive sessions: the tunnels (SSH local forwards, ``kubectl port-forward``) that give a user the link to a
service a workflow started, for as long as the run (or the step's job) lives."""
