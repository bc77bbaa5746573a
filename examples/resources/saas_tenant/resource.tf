resource "saas_tenant" "globex" {
  id    = "globex"
  name  = "Globex Corporation"
  email = "platform@globex.example"
  tier  = "premium"

  # Reference the application's id (not a literal name), so Terraform creates
  # the application first.
  applications = [saas_application.web.id]

  variables = {
    replicas     = "3"
    plan_message = "Globex runs three replicas"
  }
  sensitive_variables = {
    db_password = var.globex_db_password
  }
  labels = { region = "emea" }
}

variable "globex_db_password" {
  type      = string
  sensitive = true
}
