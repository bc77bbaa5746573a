# Ingress rules for a tenant.
variable "allowed_cidrs" {
  type = list(string)
}

variable "public" {
  type = bool
}

resource "terraform_data" "ingress" {
  input = {
    cidrs  = var.allowed_cidrs
    public = var.public
  }
}
