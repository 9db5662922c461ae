"""Celery tasks of the VM lifecycle (create, clone, cold migrate, IP customization)."""
