"""``wfrun serve``: the web UI and the authenticated HTTP API (issue 15)."""
