"""What runs the jobs: the scheduler and its lock, the fetch job, the Celery queue, the demo."""
