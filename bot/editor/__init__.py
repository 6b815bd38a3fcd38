"""Tools for content editors: lint checks that need the matcher, the unanswered inbox, new entries."""
