"""Promotions: plan, policy, promote, update, rollback and release-hold."""
