"""The commented starter config.toml (jobs/data/config.toml) that `paperboy init` writes
and `paperboy demo` runs on, and its one-file-per-user variant (`init --users-dir`).

Here, in the config layer, so that `paperboy init` loads none of the demo's pipeline.
"""

from __future__ import annotations

from importlib import resources

DATA = resources.files("paperboy.jobs") / "data"

_USERS_INTRO = "# One [[users]] table per person."
_USERS_DIR_OFF = '# users_dir = "users.d/"\n'


def starter_config() -> str:
    """The commented config.toml that `paperboy init` writes and the demo runs on."""
    return (DATA / "config.toml").read_text(encoding="utf-8")


def starter_users_dir() -> tuple[str, str]:
    """`paperboy init --users-dir`: the starter config.toml with users_dir on, and the
    text of users.d/ada.toml: its sample user's keys and comments, without the header."""
    text = starter_config()
    at = text.index(_USERS_INTRO)
    config = text[:at].replace(_USERS_DIR_OFF, _USERS_DIR_OFF.removeprefix("# ")).rstrip("\n")
    config += "\n\n# Users: one file each in users.d/ (the sample user is users.d/ada.toml).\n"
    user = text[at:].split("[[users]]\n", 1)[1].replace('name = "ada"\n', "", 1)
    intro = (
        "# One user's profile: the keys of a [[users]] table, without the [[users]] line.\n"
        "# The file's name is the user's name (ada.toml: ada), unless name = \"...\" says\n"
        "# otherwise. This sample user follows RL for LLM reasoning.\n"
    )
    return config, intro + user
