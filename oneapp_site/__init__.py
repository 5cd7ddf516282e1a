# Registers the site's system checks as soon as anything (settings included) imports the package,
# and the receiver that keeps a SQLite database readable by its owner only.
from oneapp_site import checks, sqlite_files  # noqa: F401
