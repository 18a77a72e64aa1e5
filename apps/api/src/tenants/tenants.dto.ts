import { ApiProperty } from '@nestjs/swagger';
import { IsString, Length } from 'class-validator';
import { IssuedApiKeyDto } from '../api-keys/api-keys.dto';

export class CreateTenantDto {
  @ApiProperty({ example: 'Acme' })
  @IsString()
  @Length(1, 200)
  name!: string;
}

/** Response of tenant creation (documentation; the service returns `CreatedTenant`). */
export class CreatedTenantDto {
  @ApiProperty({ example: 'ten_FwxZbrEWuLjg' })
  tenantId!: string;
  @ApiProperty({ example: 'Acme' })
  name!: string;
  @ApiProperty({ type: IssuedApiKeyDto, description: "The tenant's first admin key, shown once" })
  apiKey!: IssuedApiKeyDto;
}
