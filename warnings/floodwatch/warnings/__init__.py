"""Warnings of floodwatch: alert rules, lifecycle, subscriptions, channels and CAP."""
