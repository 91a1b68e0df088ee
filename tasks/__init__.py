"""Celery entry points. Thin: each task takes ids, calls coach/, returns a small summary."""
