"""Admin accounts: who may sign in to the admin pages, with which role, and what they did.

``roles`` is the permission table, ``accounts`` and ``passwords`` the people who sign in,
``second_factor`` their TOTP codes, ``sessions`` the server-side sessions, ``audit`` the log
of every admin action. The web pages are in coach/web/admin/, the commands in coach/cli/admin.py.
"""
