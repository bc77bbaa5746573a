# A tenant is imported by its id.
terraform import saas_tenant.globex globex
