"""Jobs: whole files of tweets scored on Celery workers, with their state in SQL and their files in a folder."""
