"""gunicorn's settings for landmap, used by the README's command and scripts/loadtest.py:

    .venv/bin/gunicorn -c landmap/gunicorn_conf.py -b 0.0.0.0:5000 'landmap:create_app()'

Options on the command line win over these (gunicorn reads this file first).

keepalive: gunicorn closes a keep-alive connection idle for 2 s by default, which suits clients
connecting directly; behind a load balancer that keeps connections to its servers open, a
request it sends on one just as gunicorn closes it fails. gunicorn's documentation says to set
it higher there: LANDMAP_KEEPALIVE seconds (default 75, longer than the 60 s idle timeout of
nginx's upstream keepalive and of AWS ALB), so that the balancer always closes first. The
gthread worker waits for an idle connection's next request in its poller, not in a thread, so
idle connections hold no thread (at most ``worker_connections`` per worker).
"""

import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from landmap.config import keepalive_seconds  # noqa: E402

worker_class = "gthread"
workers = os.cpu_count() or 2  # one process per core
threads = 4
keepalive = keepalive_seconds()
