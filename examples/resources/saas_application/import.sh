# An application is imported by its name.
terraform import saas_application.web web
