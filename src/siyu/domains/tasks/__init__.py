"""Staff tasks (跟进任务): other domains create them through ``create_tasks`` with ``NewTask``."""

from siyu.domains.tasks.service import NewTask, close_task, count_tasks, create_tasks, get_task, list_tasks

__all__ = ["NewTask", "close_task", "count_tasks", "create_tasks", "get_task", "list_tasks"]
