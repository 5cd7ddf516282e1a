# Registers the site's system checks as soon as anything (settings included) imports the package.
from oneapp_site import checks  # noqa: F401
