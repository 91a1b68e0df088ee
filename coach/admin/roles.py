"""Who may do what in the admin pages: one explicit table, walked route by route by a test.

Roles do not nest, with one exception the issue asks for: a publisher can do everything an
author can. **admin does not imply the others**: it manages accounts and reads the audit log.
Were it to imply safety, it could read people's replies, which only the safety role may; were
it to imply publisher, one stolen admin password would publish. A person with two jobs has
two accounts.
"""

AUTHOR, PUBLISHER, OPERATOR, SAFETY, ADMIN = "author", "publisher", "operator", "safety", "admin"
ROLES = (AUTHOR, PUBLISHER, OPERATOR, SAFETY, ADMIN)

# Permissions, named "thing.verb". Pages check one with coach.web.admin.guard.requires.
HOME = "home"  # sign in, see the home page, set up one's own second factor
PROGRAMMES_VIEW = "programmes.view"
DRAFTS_EDIT = "drafts.edit"
DRAFTS_PREVIEW = "drafts.preview"
DRAFTS_TEST_SEND = "drafts.test-send"
VERSIONS_PUBLISH = "versions.publish"
PEOPLE_MIGRATE = "people.migrate"
PEOPLE_VIEW = "people.view"
DELIVERIES_VIEW = "deliveries.view"
REPLIES_READ = "replies.read"  # people's own words: the safety role alone
FLAGS_WORK = "flags.work"
ACCOUNTS_MANAGE = "accounts.manage"
AUDIT_READ = "audit.read"

_AUTHOR = frozenset({HOME, PROGRAMMES_VIEW, DRAFTS_EDIT, DRAFTS_PREVIEW, DRAFTS_TEST_SEND})
ROLE_CAN: dict[str, frozenset[str]] = {
    AUTHOR: _AUTHOR,
    PUBLISHER: _AUTHOR | {VERSIONS_PUBLISH, PEOPLE_MIGRATE},
    OPERATOR: frozenset({HOME, PROGRAMMES_VIEW, PEOPLE_VIEW, DELIVERIES_VIEW}),
    SAFETY: frozenset({HOME, REPLIES_READ, FLAGS_WORK}),
    ADMIN: frozenset({HOME, ACCOUNTS_MANAGE, AUDIT_READ}),
}
PERMISSIONS: frozenset[str] = frozenset().union(*ROLE_CAN.values())

# What each permission lets a person do, in the words the home page uses.
DESCRIBED = {
    HOME: "Sign in and set up a second factor for your account",
    PROGRAMMES_VIEW: "See the programmes and their versions",
    DRAFTS_EDIT: "Edit programme drafts",
    DRAFTS_PREVIEW: "Preview drafts and walk their schedule",
    DRAFTS_TEST_SEND: "Send a test of a draft to yourself",
    VERSIONS_PUBLISH: "Publish a draft as a new version",
    PEOPLE_MIGRATE: "Move people from one version to another",
    PEOPLE_VIEW: "See the people who subscribe and their progress",
    DELIVERIES_VIEW: "See deliveries and their outcomes",
    REPLIES_READ: "Read what people write in their replies",
    FLAGS_WORK: "Work the safety queue",
    ACCOUNTS_MANAGE: "Add admin accounts, change their roles, disable them",
    AUDIT_READ: "Read the audit log",
}


def can(role: str, permission: str) -> bool:
    """Whether the role has the permission; an unknown role has none."""
    if permission not in PERMISSIONS:
        raise ValueError(f"unknown permission {permission!r}; add it to ROLE_CAN first")
    return permission in ROLE_CAN.get(role, frozenset())
