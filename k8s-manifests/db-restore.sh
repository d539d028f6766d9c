#!/bin/sh
# Lists or restores the SQLite backups of user-service or blog-service in a cluster.
#
#   k8s-manifests/db-restore.sh user-service list
#   k8s-manifests/db-restore.sh user-service users.db.2026-11-22-000000
#   k8s-manifests/db-restore.sh blog-service blog.db.2026-11-22-000000 titanium ""   # overlays/prod
#
# Arguments: component, "list" or a backup file name, namespace (titanium-local), name prefix (local-).
# A restore scales the Deployment to 0 (SQLite must have no writer), runs the image's sqlite-backup
# restore in a one-off pod on the same volumes (the backup is integrity-checked first; the replaced
# database is kept beside it as <db>.before-restore-<time>), then scales the Deployment back up,
# also when the restore failed.
set -eu

component=${1:?usage: db-restore.sh user-service|blog-service list|<backup file> [namespace] [prefix]}
backup=${2:?usage: db-restore.sh user-service|blog-service list|<backup file> [namespace] [prefix]}
namespace=${3:-titanium-local}
prefix=${4-local-}

case "$component" in
  user-service) db=users.db ;;
  blog-service) db=blog.db ;;
  *) echo "db-restore.sh: component must be user-service or blog-service, not $component" >&2; exit 64 ;;
esac
case "$backup" in
  list) ;;
  "$db".[0-9][0-9][0-9][0-9]-[0-9][0-9]-[0-9][0-9]-[0-9][0-9][0-9][0-9][0-9][0-9]) ;;
  *) echo "db-restore.sh: expected \"list\" or a backup named $db.YYYY-mm-dd-HHMMSS, not $backup" >&2; exit 64 ;;
esac

deployment="$prefix$component"
image=$(kubectl -n "$namespace" get deployment "$deployment" -o 'jsonpath={.spec.template.spec.containers[0].image}')
replicas=$(kubectl -n "$namespace" get deployment "$deployment" -o 'jsonpath={.spec.replicas}')

if [ "$backup" = list ]; then
  args='["list", "--out", "/backup", "--name", "'"$db"'"]'
else
  args='["restore", "--from", "/backup/'"$backup"'", "--db", "/data/'"$db"'"]'
fi

overrides=$(cat <<EOF
{
  "apiVersion": "v1",
  "spec": {
    "restartPolicy": "Never",
    "automountServiceAccountToken": false,
    "securityContext": {
      "runAsNonRoot": true, "runAsUser": 1000, "runAsGroup": 1000, "fsGroup": 1000,
      "seccompProfile": {"type": "RuntimeDefault"}
    },
    "containers": [{
      "name": "db-restore",
      "image": "$image",
      "imagePullPolicy": "IfNotPresent",
      "command": ["node", "/app/service-kit/dist/bin/sqlite-backup.js"],
      "args": $args,
      "securityContext": {"allowPrivilegeEscalation": false, "readOnlyRootFilesystem": true, "capabilities": {"drop": ["ALL"]}},
      "resources": {"requests": {"cpu": "50m", "memory": "64Mi"}, "limits": {"cpu": "500m", "memory": "256Mi"}},
      "volumeMounts": [
        {"name": "data", "mountPath": "/data"},
        {"name": "backup", "mountPath": "/backup"},
        {"name": "tmp", "mountPath": "/tmp"}
      ]
    }],
    "volumes": [
      {"name": "data", "persistentVolumeClaim": {"claimName": "$prefix$component-data"}},
      {"name": "backup", "persistentVolumeClaim": {"claimName": "$prefix$component-backups"}},
      {"name": "tmp", "emptyDir": {}}
    ]
  }
}
EOF
)

run_pod() {
  kubectl -n "$namespace" run "$component-db-$1" --rm -i --restart=Never --quiet \
    --image="$image" --overrides="$overrides"
}

if [ "$backup" = list ]; then
  run_pod list
  exit
fi

echo "db-restore.sh: stopping $deployment (SQLite must have no writer during a restore)" >&2
kubectl -n "$namespace" scale deployment "$deployment" --replicas=0
# Also fine when no pod is left to wait for; the restore itself refuses a database still in use.
kubectl -n "$namespace" wait --for=delete pod -l "app=$component" --timeout=120s || true
status=0
run_pod restore || status=$?
echo "db-restore.sh: starting $deployment again ($replicas replica(s))" >&2
kubectl -n "$namespace" scale deployment "$deployment" --replicas="$replicas"
kubectl -n "$namespace" rollout status deployment "$deployment" --timeout=180s
exit "$status"
