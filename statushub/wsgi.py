import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "statushub.settings")

from statushub.serving import SnapshotApp

# Public URLs are answered from the snapshot (statushub/serving.py); everything else is Django.
application = SnapshotApp(get_wsgi_application())
