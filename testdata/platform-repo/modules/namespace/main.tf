# A tenant's namespace with its quota; shared by both stacks.
variable "tenant" {
  type = string
}

variable "quota" {
  type = map(number)
}

variable "labels" {
  type    = map(string)
  default = {}
}

resource "terraform_data" "namespace" {
  input = {
    name   = "ns-${var.tenant}"
    quota  = var.quota
    labels = var.labels
  }
}

output "name" {
  value = terraform_data.namespace.output.name
}
