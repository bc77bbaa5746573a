# Loaded after terraform.tfvars, so this quota wins over that one.
quota         = { cpu = 4, memory = 8 }
allowed_cidrs = ["10.0.0.0/8"]
public        = false
