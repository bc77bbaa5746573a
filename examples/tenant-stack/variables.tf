# Set by saasctl for every tenant.
variable "tenant_id" {
  description = "The tenant's id (a DNS-label slug)."
  type        = string
}

variable "tenant_name" {
  description = "The tenant's display name."
  type        = string
  default     = ""
}

variable "tenant_tier" {
  description = "The tenant's tier."
  type        = string
  default     = "basic"
}

# The tenant's `variables` (strings; Terraform converts them to the declared type).
variable "replicas" {
  description = "How many replica resources this tenant gets."
  type        = number
  default     = 1

  validation {
    condition     = var.replicas >= 0 && var.replicas <= 20
    error_message = "replicas must be between 0 and 20."
  }
}

variable "plan_message" {
  description = "Free text carried into each replica."
  type        = string
  default     = ""
}

variable "fail_plan" {
  description = "Set to \"true\" for a tenant to make its plan fail (a precondition)."
  type        = bool
  default     = false
}

# A tenant `sensitive_variables` entry: only ever in TF_VAR_api_token.
variable "api_token" {
  description = "The tenant's API token (sensitive; never stored in plans or state)."
  type        = string
  default     = ""
  sensitive   = true
  ephemeral   = true
}
