"""gunicorn's settings for the portal (deploy/systemd/drimm-web.service: ``--config python:trustspace.gunicorn_conf``).

Access and error logs are JSON lines on standard output/error, like the portal's own (trustspace.log_format): each
access line carries the request's ``request_id`` (the X-Request-ID response header set by RequestIdMiddleware, the
same id as in every line Django logged for that request), method, path (without the query string), status,
duration and size. The command line keeps the rest (bind, workers, timeouts).
"""
accesslog = "-"
errorlog = "-"
access_log_format = "%(m)s %(U)s %(s)s"  # the line's « message »; the fields come from GunicornAccessFormatter

logconfig_dict = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {"context": {"()": "trustspace.log_format.ContextFilter"}},
    "formatters": {
        "json": {"()": "trustspace.log_format.JsonFormatter"},
        "access": {"()": "trustspace.log_format.GunicornAccessFormatter"},
    },
    "handlers": {
        "error_console": {"class": "logging.StreamHandler", "formatter": "json", "filters": ["context"],
                          "stream": "ext://sys.stderr"},
        "access_console": {"class": "logging.StreamHandler", "formatter": "access", "stream": "ext://sys.stdout"},
    },
    "root": {"level": "INFO", "handlers": ["error_console"]},
    # Not propagated: Django's LOGGING (loaded by each worker) would print them a second time.
    "loggers": {
        "gunicorn.error": {"level": "INFO", "handlers": ["error_console"], "propagate": False},
        "gunicorn.access": {"level": "INFO", "handlers": ["access_console"], "propagate": False},
    },
}
