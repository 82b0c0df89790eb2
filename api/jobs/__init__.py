"""Jobs: whole files of tweets scored on Celery workers; their state in SQL, their files in a folder."""
