"""Django's output formats for French (FORMAT_MODULE_PATH): a bare ``{{ value }}`` of a date and the admin write
dates as every page does (``trustspace.paris_time``). Input formats stay Django's."""
from trustspace.paris_time import DATE_FORMAT, DATETIME_FORMAT

SHORT_DATE_FORMAT = DATE_FORMAT
SHORT_DATETIME_FORMAT = DATETIME_FORMAT
TIME_FORMAT = "H:i"
