"""Test plumbing shared by the test folders and the bench: free ports, Prism, local HTTP peers
(a fake Twilio among them) and Celery worker processes."""
