"""Typed settings, one object per component.

Each is read from environment variables (``FLOODWATCH_…``) and, optionally, from one section of
a TOML file named by ``FLOODWATCH_CONFIG`` (``[store]``, ``[hydro]``, …). Environment variables
win over the file. Settings are built at the entry points only (CLI, web app factory, scheduler);
library code takes them as arguments.
"""

from __future__ import annotations

import os
import tomllib
from pathlib import Path
from typing import Any, ClassVar

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict

from floodwatch.core.errors import ConfigError

CONFIG_ENV = "FLOODWATCH_CONFIG"


def default_data_dir() -> Path:
    """Per-user data directory, following the XDG base directory convention."""
    base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base) / "floodwatch"


class _TomlSection(PydanticBaseSettingsSource):
    """Reads one table of the TOML file named by FLOODWATCH_CONFIG."""

    def __init__(self, settings_cls: type[BaseSettings], section: str) -> None:
        super().__init__(settings_cls)
        self._data = self._load(section)

    @staticmethod
    def _load(section: str) -> dict[str, Any]:
        path = os.environ.get(CONFIG_ENV)
        if not path:
            return {}
        try:
            with open(path, "rb") as fh:
                data = tomllib.load(fh)
        except FileNotFoundError as exc:
            raise ConfigError(f"{CONFIG_ENV} names {path}, which does not exist") from exc
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"{path} is not valid TOML: {exc}") from exc
        value = data.get(section, {})
        if not isinstance(value, dict):
            raise ConfigError(f"[{section}] in {path} must be a table")
        return value

    def get_field_value(self, field: Any, field_name: str) -> tuple[Any, str, bool]:
        return self._data.get(field_name), field_name, False

    def __call__(self) -> dict[str, Any]:
        return dict(self._data)


class ComponentSettings(BaseSettings):
    """Base: env prefix FLOODWATCH_, plus the component's TOML section."""

    toml_section: ClassVar[str] = ""
    model_config = SettingsConfigDict(env_prefix="FLOODWATCH_", extra="ignore")

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        return (init_settings, env_settings, _TomlSection(settings_cls, cls.toml_section))


class StoreSettings(ComponentSettings):
    """Where floodwatch keeps its data."""

    toml_section: ClassVar[str] = "store"

    data_dir: Path = Field(default_factory=default_data_dir)
    database_url: str | None = None
    publish_dir: Path | None = None
    echo_sql: bool = False

    @field_validator("data_dir", mode="after")
    @classmethod
    def _expand(cls, value: Path) -> Path:
        return value.expanduser()

    @property
    def url(self) -> str:
        """The SQLAlchemy URL: FLOODWATCH_DATABASE_URL, or a SpatiaLite file in the data dir."""
        if self.database_url:
            return self.database_url
        return f"sqlite:///{self.data_dir / 'floodwatch.sqlite'}"

    @property
    def publish_path(self) -> Path:
        return (self.publish_dir or self.data_dir / "publish").expanduser()
