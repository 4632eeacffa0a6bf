"""Web peers told about a change: forges' pull-request APIs (GitHub, GitLab, Gitea) and Argo CD's webhook."""
