"""The ECS platform: each flow run as an ECS task, through boto3 (the ``ecs`` extra)."""
