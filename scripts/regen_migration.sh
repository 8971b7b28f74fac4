#!/usr/bin/env bash
# Development only, before the first release: regenerate migrations/versions/0001 from the models.
# After a release, add a new revision instead (alembic revision --autogenerate).
set -euo pipefail
cd "$(dirname "$0")/.."
tmp=$(mktemp -d)
rm -f migrations/versions/0001_initial_schema.py
SIYU_DATABASE_URL="sqlite:///$tmp/gen.db" .venv/bin/alembic revision --autogenerate -m "initial schema" --rev-id 0001 >/dev/null
sed -i 's/astext_type=Text()/astext_type=sa.Text()/; s/^Create Date: .*/Create Date: 2026-11-23/' migrations/versions/0001_initial_schema.py
rm -rf "$tmp"
echo "regenerated migrations/versions/0001_initial_schema.py"
