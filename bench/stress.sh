#!/usr/bin/env bash
# usage: stress.sh SERVER_SCRIPT_OR_"plain" ROUNDS TENANTS [max_retries]
set -u
srv="$1" rounds="$2" n="$3" mr="${4:-}"
ROOT=/work/main
port=$(python3 -c 'import socket;s=socket.socket();s.bind(("127.0.0.1",0));print(s.getsockname()[1])')
url=http://127.0.0.1:$port
if [[ $srv == plain ]]; then $ROOT/.tools/venv/bin/moto_server -H 127.0.0.1 -p $port >/tmp/ls/moto.log 2>&1 &
else $ROOT/.tools/venv/bin/python $srv -H 127.0.0.1 -p $port >/tmp/ls/moto.log 2>&1 & fi
mpid=$!
until curl -s $url/moto-api/ >/dev/null; do sleep 0.2; done
export TF_CLI_CONFIG_FILE=/work/main/.tools/terraformrc AWS_DEFAULT_REGION=us-east-1 AWS_ACCESS_KEY_ID=test AWS_SECRET_ACCESS_KEY=test AWS_REGION=us-east-1 AWS_ENDPOINT_URL_S3=$url AWS_ENDPOINT_URL_DYNAMODB=$url TF_IN_AUTOMATION=1 CHECKPOINT_DISABLE=1
$ROOT/.tools/venv/bin/python -c "
import boto3
boto3.client('s3',endpoint_url='$url').create_bucket(Bucket='stress-bucket')
boto3.client('dynamodb',endpoint_url='$url').create_table(TableName='l',KeySchema=[{'AttributeName':'LockID','KeyType':'HASH'}],AttributeDefinitions=[{'AttributeName':'LockID','AttributeType':'S'}],BillingMode='PAY_PER_REQUEST')"
W=/tmp/ls/work; rm -rf $W; mkdir -p $W/stack
cat > $W/stack/main.tf <<'TF'
terraform {
  backend "s3" {}
}
resource "terraform_data" "x" { input = "y" }
TF
extra=(); [[ -n $mr ]] && extra=(-backend-config=max_retries=$mr)
for i in $(seq 1 $n); do
  TF_DATA_DIR=$W/d$i terraform -chdir=$W/stack init -input=false -backend-config=bucket=stress-bucket -backend-config=key=t$i/tfstate -backend-config=region=us-east-1 -backend-config=dynamodb_table=l -backend-config=use_path_style=true -backend-config=skip_credentials_validation=true -backend-config=skip_requesting_account_id=true -backend-config=skip_metadata_api_check=true "${extra[@]}" >/dev/null 2>$W/init$i.err || echo "init $i failed"
done
fail=0
for r in $(seq 1 $rounds); do
  out=$(seq 1 $n | xargs -P2 -I{} sh -c "TF_DATA_DIR=$W/d{} terraform -chdir=$W/stack plan -input=false -lock-timeout=0s >/dev/null 2>$W/err{}.r$r || echo FAIL{}")
  c=$(echo "$out" | grep -c FAIL)
  fail=$((fail+c))
  # clear orphan locks so next round starts clean
  [[ $c -gt 0 ]] && $ROOT/.tools/venv/bin/python -c "
import boto3
d=boto3.client('dynamodb',endpoint_url='$url')
for it in d.scan(TableName='l')['Items']:
    if not it['LockID']['S'].endswith('-md5'): d.delete_item(TableName='l',Key={'LockID':it['LockID']})"
done
echo "server=$srv rounds=$rounds tenants=$n max_retries=${mr:-default} failures=$fail/$((rounds*n))"
kill $mpid
