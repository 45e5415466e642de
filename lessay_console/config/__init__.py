"""Configuration: TOML, validated into typed values, defaults from the maintenance guide."""

from lessay_console.config.loader import ConfigError, find_config, load_config, parse_config_text
from lessay_console.config.model import Config
from lessay_console.config.reader import Problem

__all__ = ["Config", "ConfigError", "Problem", "find_config", "load_config", "parse_config_text"]
