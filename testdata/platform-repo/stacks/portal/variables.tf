# Set by saasctl for every tenant.
variable "tenant_id" {
  type = string
}

variable "tenant_name" {
  type = string
}

variable "tenant_tier" {
  type = string
}

# Per-tenant inputs (the tenant's `variables`), over the stack's tfvars.
variable "replicas" {
  type    = number
  default = 1
}

variable "public" {
  type    = bool
  default = false
}

variable "allowed_cidrs" {
  type    = list(string)
  default = []
}

variable "quota" {
  type = map(number)
}

variable "settings" {
  type = object({
    plan     = string
    seats    = number
    features = list(string)
  })
}
