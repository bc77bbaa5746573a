# Stack-wide defaults; *.auto.tfvars and then each tenant's inputs win over these.
quota = { cpu = 2, memory = 4 }

settings = {
  plan     = "standard"
  seats    = 10
  features = ["sso"]
}
