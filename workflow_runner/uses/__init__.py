"""Where a ``uses:`` comes from and what it accepts: resolution, ``with:`` checks, the GitHub cache.

Below ``validate`` and ``actions`` (both read it); imports neither.
"""
