// The GraphQL documents the schema tests send, written as a client would.

export const CREATE_NAMESPACE = /* GraphQL */ `
  mutation ($input: CreateNamespaceInput!) {
    createNamespace(input: $input) {
      __typename
      ... on CreateNamespacePayload { namespace { id slug name viewerRole createdAt updatedAt } }
      ... on ValidationError { field }
      ... on Error { message }
    }
  }
`;

export const CREATE_REGISTRY = /* GraphQL */ `
  mutation ($input: CreateRegistryInput!) {
    createRegistry(input: $input) {
      __typename
      ... on CreateRegistryPayload {
        registry { id kind name slug endpoint public state isDefault quota { limitBytes } namespace { slug } createdAt }
      }
      ... on ValidationError { field }
      ... on Error { message }
    }
  }
`;

export const UPDATE_REGISTRY = /* GraphQL */ `
  mutation ($input: UpdateRegistryInput!) {
    updateRegistry(input: $input) {
      __typename
      ... on UpdateRegistryPayload { registry { id name public quota { limitBytes } updatedAt } }
      ... on ValidationError { field }
      ... on Error { message }
    }
  }
`;

export const DELETE_REGISTRY = /* GraphQL */ `
  mutation ($input: DeleteRegistryInput!) {
    deleteRegistry(input: $input) {
      __typename
      ... on DeleteRegistryPayload { deletedId }
      ... on Error { message }
    }
  }
`;

export const UPDATE_NAMESPACE = /* GraphQL */ `
  mutation ($input: UpdateNamespaceInput!) {
    updateNamespace(input: $input) {
      __typename
      ... on UpdateNamespacePayload { namespace { id name slug } }
      ... on ValidationError { field }
      ... on Error { message }
    }
  }
`;

export const DELETE_NAMESPACE = /* GraphQL */ `
  mutation ($input: DeleteNamespaceInput!) {
    deleteNamespace(input: $input) {
      __typename
      ... on DeleteNamespacePayload { deletedId }
      ... on Error { message }
    }
  }
`;

export const ADD_MEMBER = /* GraphQL */ `
  mutation ($input: AddNamespaceMemberInput!) {
    addNamespaceMember(input: $input) {
      __typename
      ... on AddNamespaceMemberPayload { member { role user { name } } }
      ... on Error { message }
    }
  }
`;

export const NAMESPACE_WITH_REGISTRIES = /* GraphQL */ `
  query ($slug: String!, $first: Int, $after: String, $kind: RegistryKind, $orderBy: RegistryOrder) {
    namespace(slug: $slug) {
      id
      registries(first: $first, after: $after, kind: $kind, orderBy: $orderBy) {
        totalCount
        pageInfo { hasNextPage endCursor }
        nodes { id name slug }
      }
    }
  }
`;
